"""The platform-neutral chat core: it knows Redis and the guide's schema, never Discord or Slack."""
