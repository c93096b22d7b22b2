"""Run orchestration: schedule, restore, recover, plan, move budget, interrupts, lease."""
