"""chatbridge: a Redis-backed chat core shared by Discord and Slack users."""

__version__ = "0.1.0"
