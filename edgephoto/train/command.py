"""``edgephoto train``: train a task's teacher and/or its student alone (the baseline)."""

from __future__ import annotations

import argparse

from ..cli import add_task_argument


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``compress`` (both run the trainer)."""
    add_task_argument(p)
    p.add_argument("--profile", default="demo",
                   help="training profile from edgephoto/train/profiles.py: smoke, demo, starter, paper")
    p.add_argument("--data", default=None, help="dataset root (default: data/<task>)")
    p.add_argument("--runs", default="runs", help="where runs/<task>/<variant>/ckpt.pt are written")
    p.add_argument("--steps", type=int, default=None, help="override the profile's steps")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--size", type=int, default=None, help="training resolution (default: task input size)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    p.add_argument("--ckpt-every", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument("--init", default=None, metavar="CKPT",
                   help="start from these weights (same architecture): a checkpoint, e.g. starter weights to "
                        "fine-tune, or a deployed .onnx of it (`--arch u2netp_folded --init u2netp.onnx`)")
    p.add_argument("--init-partial", action="store_true",
                   help="--init from another architecture: take the tensors whose names and shapes match, "
                        "initialise the rest (e.g. a new head on trained features)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train teacher / student models of a task",
                       description="Train a task's teacher and its student alone. Resumes from "
                                   "runs/<task>/<role>/ckpt.pt when interrupted. Runs unchanged under "
                                   "torchrun for data-parallel training.")
    add_common(p)
    p.add_argument("--role", default="teacher,student",
                   help="comma list of roles: teacher, student (default: both)")
    p.add_argument("--arch", default=None, help="override the architecture of the role")
    p.add_argument("--out", default=None, help="output folder (default: runs/<task>/<role>)")
    p.add_argument("--no-gan", action="store_true",
                   help="train the teacher with the pixel loss only (no discriminator), for tasks with a GAN")
    p.add_argument("--sync-check", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def make_config(args, role: str, profile_role: str, out, arch: str, **extra):
    from pathlib import Path

    from ..tasks import get_task
    from .profiles import profile
    from .trainer import TrainConfig

    task = get_task(args.task)
    prof = profile(args.profile, profile_role, task)
    prof_arch = prof.pop("arch", None)
    data = args.data or str(task.default_data_root())
    if not Path(data, "train").is_dir():
        from ..errors import UserError
        raise UserError(f"no training data at {data}/train (run `edgephoto data --task {args.task}` "
                        f"or pass --data)")
    for k in ("steps", "batch", "lr", "size"):
        if getattr(args, k, None) is not None:
            prof[k] = getattr(args, k)
    return TrainConfig(task=args.task, arch=arch or prof_arch, data=data, out=str(out),
                       ckpt_every=args.ckpt_every, eval_every=args.eval_every, seed=args.seed,
                       threads=args.threads, resume=not args.no_resume,
                       init=getattr(args, "init", None),
                       init_partial=getattr(args, "init_partial", False), **prof, **extra)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UserError
    from ..tasks import get_task
    from .trainer import train

    task = get_task(args.task)
    roles = [r.strip() for r in args.role.split(",") if r.strip()]
    for role in roles:
        if role not in ("teacher", "student"):
            raise UserError(f"unknown role '{role}' (teacher, student)")
        if args.out and len(roles) > 1:
            raise UserError("--out needs a single --role")
        out = Path(args.out) if args.out else Path(args.runs) / args.task / role
        arch = args.arch or (task.teacher_arch if role == "teacher" else task.student_arch)
        recipe = task.teacher_recipe if role == "teacher" else task.student_recipe
        if args.no_gan:
            from .recipes import RECIPES
            if RECIPES.get(recipe).adversarial:
                recipe = "supervised"
        phases = [list(p) for p in task.teacher_phases] if role == "teacher" else []
        cfg = make_config(args, role, role, out, arch, sync_check=args.sync_check, recipe=recipe,
                          phases=phases)
        train(cfg)
    return 0
