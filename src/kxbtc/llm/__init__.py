"""The multi-LLM forecast ensemble: a slow loop that turns model answers into probability priors."""
