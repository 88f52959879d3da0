"""The HTTP API: one router per capability, authentication, roles and audit."""
