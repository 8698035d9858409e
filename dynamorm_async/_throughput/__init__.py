"""Throughput control: capacity budgets that pace scans, batch writes and copies."""
