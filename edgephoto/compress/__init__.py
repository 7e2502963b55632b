"""Compression: distillation, quantization (calibrated int8, fp16) and selection of the shipped variant."""
