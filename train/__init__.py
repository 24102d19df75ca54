"""Fine-tuning: the TRL SFT entry point (train.sft), pinned chat templates, throughput/MFU callback, model makers."""
