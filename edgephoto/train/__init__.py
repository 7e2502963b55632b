"""Training: one trainer for teachers, students and distillation, resumable, DDP-ready.

``edgephoto train --task matte --role teacher`` (see ``--help``); under ``torchrun`` the same
command trains data-parallel (gloo on CPU, nccl on GPU).
"""
