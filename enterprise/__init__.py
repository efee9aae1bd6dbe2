"""Enterprise-managed authorization: trusted identity providers (ID-JAG), workload trust
rules and the assertion replay cache."""
