"""Verifiers by category: math (eval's grader, optional LLM judge), code (sandboxed tests), reward model,
majority vote. `data_prep.verify.verify_rows` picks one per row."""
