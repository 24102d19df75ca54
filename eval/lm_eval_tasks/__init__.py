"""Task files for lm-evaluation-harness (`lm_eval --include_path eval/lm_eval_tasks`), graded by eval.grading."""
