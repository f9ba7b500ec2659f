"""Domain services: organisations, users and tokens now; SIMs, endpoints and quotas later."""
