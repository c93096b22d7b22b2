"""Run orchestration: schedule, step needs, restore, recover, move budget, interrupts, lease."""
