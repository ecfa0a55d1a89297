"""Stand-alone services that run next to the orchestrator (the vLLM expert simulator)."""
