# qmaudit-probe: lab_power_on_node
# qmaudit-kind: lab-only
# Only the embedded lab cluster implements this action; on a real cluster it refuses to run.
throw 'qmaudit: lab_power_on_node is a lab-only action and is never run on a real cluster'
