# qmaudit-probe: lab_crash_node
# qmaudit-kind: lab-only
# Only the embedded lab cluster implements this action; on a real cluster it refuses to run.
throw 'qmaudit: lab_crash_node is a lab-only action and is never run on a real cluster'
