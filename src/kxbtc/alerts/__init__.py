"""Alerts for the operator: webhooks (Slack, Discord, Telegram-compatible) told of what needs a person."""
