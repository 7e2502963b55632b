"""The trainer: the loop around a training recipe (``recipes.py``: supervised, distill from a
checkpoint or an exported / imported model, pix2pix's conditional GAN).

- Adam with a two-phase step schedule (the U2-Net recipe: lr, then lr/10 for the last third).
- A checkpoint (model + optimizer + scheduler + step) every ``ckpt_every`` steps and at the end;
  an interrupted run resumes from it with the same command.
- A JSONL metrics log (``metrics.jsonl``): loss, lr, throughput, periodic validation.
- Data-parallel under ``torchrun``: the process group comes from the environment (gloo on CPU),
  each rank sees its shard of every epoch, only rank 0 writes files.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from ..models import count_parameters, create_model
from ..utils.progress import Progress, fmt_duration, log
from .checkpoint import read_checkpoint, save_checkpoint
from .recipes import make_recipe


@dataclass
class TrainConfig:
    task: str
    arch: str
    data: str
    out: str
    steps: int = 200
    batch: int = 8
    lr: float = 2e-3
    size: Optional[int] = None          # default: the task's input size
    ckpt_every: int = 100
    eval_every: int = 0                 # 0: only at the end
    eval_limit: int = 100
    log_every: int = 10
    seed: int = 0
    threads: int = 0                    # 0: torch's default
    teacher: Optional[str] = None       # checkpoint path or model directory -> distillation
    init: Optional[str] = None          # checkpoint whose weights start a new run (fine-tuning)
    init_partial: bool = False          # --init of another architecture: take the tensors that match
    temperature: float = 2.0
    alpha: float = 0.5                  # weight of the ground-truth loss when distilling
    hint_weight: float = 0.0            # side-output hints when distilling
    resume: bool = True
    sync_check: bool = False            # write each rank's parameter digest (DDP test)
    recipe: str = ""                    # recipes.RECIPES name; "": distill with a teacher, else supervised
    phases: Sequence[Sequence[Any]] = ()   # [(phase, fraction of steps)] for models with set_phase()
    extra: Dict[str, Any] = field(default_factory=dict)


class EpochSampler(torch.utils.data.Sampler):
    """A fresh permutation per epoch that depends only on (seed, epoch): a resumed run skips the
    part of the interrupted epoch it has seen and continues with exactly the batches an
    uninterrupted run would have drawn."""

    def __init__(self, n: int, seed: int, epoch: int = 0, skip: int = 0) -> None:
        self.n, self.seed, self.epoch, self.skip = n, seed, epoch, skip

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        skip, self.skip = self.skip, 0
        return iter(order[skip:])

    def __len__(self) -> int:
        return self.n - self.skip


def load_matching(model: torch.nn.Module, state: Dict[str, Any]) -> Tuple[int, List[str]]:
    """Copy the tensors of ``state`` whose name and shape match ``model``'s; returns (count taken,
    names of the model's tensors left as initialised)."""
    own = model.state_dict()
    take = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(take, strict=False)
    return len(take), sorted(k for k in own if k not in take)


def _dist_setup():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return rank, (dist.get_world_size() if dist.is_initialized() else 1)


def param_digest(model: torch.nn.Module) -> float:
    """A float that changes with any parameter: sum of (index+1) * mean.

    Buffers (BatchNorm running stats) are left out: DDP broadcasts them from rank 0 at the start
    of each forward, so after the last local forward they legitimately differ per rank.
    """
    net = model.module if hasattr(model, "module") else model
    return float(sum((i + 1) * p.detach().double().mean() for i, p in enumerate(net.parameters())))


def lr_factor(step: int, total: int) -> float:
    """Short linear warm-up, lr for two thirds of the run, lr/10 after (U2-Net's 1e-4 -> 1e-5)."""
    warm = min(50, max(1, total // 20))
    if step < warm:
        return (step + 1) / warm
    return 1.0 if step < (2 * total) // 3 else 0.1


def phase_at(step: int, total: int, phases: Sequence[Sequence[Any]]) -> Optional[str]:
    """The training phase of ``step``: phases take consecutive fractions of the run, in order."""
    if not phases:
        return None
    edge = 0.0
    for name, frac in phases:
        edge += float(frac) * total
        if step < edge:
            return str(name)
    return str(phases[-1][0])


def train(cfg: TrainConfig) -> Dict[str, Any]:
    from ..tasks import get_task
    from .evaluate import evaluate

    rank, world = _dist_setup()
    is_main = rank == 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    task = get_task(cfg.task)
    size = cfg.size or task.input_size
    out = Path(cfg.out)
    ckpt_path = out / "ckpt.pt"
    if is_main:
        out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    # deterministic kernels where torch has them (on the CPU nearly all are); the thread count
    # still changes float summation order, so results match only at the same --threads
    torch.use_deterministic_algorithms(True, warn_only=True)
    model = create_model(cfg.arch)
    recipe = make_recipe(task, cfg)
    # GANs train with beta1 = 0.5 (pix2pix / pix2pixHD); plain and distillation runs with Adam's default
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=recipe.betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps))
    step = 0
    if cfg.resume and ckpt_path.exists():
        state = read_checkpoint(ckpt_path)
        if state["arch"] != cfg.arch:
            from ..errors import UserError
            raise UserError(f"{ckpt_path} holds a {state['arch']}, not a {cfg.arch}: "
                            f"use another --out or --no-resume")
        model.load_state_dict(state["model"])
        if "optimizer" in state:
            opt.load_state_dict(state["optimizer"])
        if "scheduler" in state:
            sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        recipe.load_state_dict(state)
        if is_main:
            log(f"[train {cfg.task}/{out.name}] resuming from step {step} ({ckpt_path})")
    elif cfg.init and str(cfg.init).lower().endswith(".onnx"):
        # a deployed file of the same architecture (e.g. the published U2-Netp for u2netp_folded)
        from ..models.onnx_weights import load_onnx_weights
        load_onnx_weights(model, Path(cfg.init), in_chans=task.input_channels)
        if is_main:
            log(f"[train {cfg.task}/{out.name}] starting from the weights of {cfg.init}")
    elif cfg.init:
        init = read_checkpoint(Path(cfg.init))
        if init["arch"] != cfg.arch and not cfg.init_partial:
            from ..errors import UserError
            raise UserError(f"--init {cfg.init} holds a {init['arch']}, not a {cfg.arch} "
                            f"(--init-partial takes the tensors whose names and shapes match)")
        if cfg.init_partial:
            taken, fresh = load_matching(model, init["model"])
            if is_main:
                log(f"[train {cfg.task}/{out.name}] from {cfg.init} ({init['arch']}): {taken} tensors taken, "
                    f"new: {', '.join(fresh) or 'none'}")
        else:
            model.load_state_dict(init["model"])
            if is_main:
                log(f"[train {cfg.task}/{out.name}] starting from the weights of {cfg.init}")

    recipe.prepare(model)     # e.g. QAT's fake quantization, on the loaded weights
    phased = bool(cfg.phases) and hasattr(model, "set_phase")

    ddp_model = model
    if world > 1:
        # phases leave some parameters unused (e.g. G1's own head once G2 trains)
        ddp_model = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=phased)

    dataset = task.dataset(Path(cfg.data), "train", size, train=True)
    drop_last = len(dataset) >= cfg.batch
    if world > 1:
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
        epoch = step * cfg.batch * world // max(len(dataset), 1)
    else:
        per_epoch = len(dataset) // cfg.batch if drop_last else math.ceil(len(dataset) / cfg.batch)
        epoch, done_in_epoch = divmod(step, max(per_epoch, 1))
        sampler = EpochSampler(len(dataset), cfg.seed, epoch, done_in_epoch * cfg.batch)
    loader = DataLoader(dataset, batch_size=cfg.batch, sampler=sampler, drop_last=drop_last, num_workers=0)
    config = asdict(cfg)
    config.update(size=size, world_size=world)
    if is_main:
        kind = recipe.describe()
        if phased:
            kind += ", phases " + " -> ".join(f"{n} {f:.0%}" for n, f in cfg.phases)
        log(f"[train {cfg.task}/{out.name}] {cfg.arch} ({count_parameters(model) / 1e6:.2f} M params), "
            f"{kind}, {len(dataset)} train images at {size}px, batch {cfg.batch} x {world} process(es), "
            f"{cfg.steps} steps")

    metrics_f = open(out / "metrics.jsonl", "a") if is_main else None
    model.train()
    t0, seen = time.time(), 0
    # the steps' bar (a terminal) or a plain line every log_every steps (a log)
    bar = Progress(f"train {cfg.task}/{out.name}", cfg.steps, every_s=float("inf"), start=step,
                   what="step") if is_main else None
    last = {}
    try:
        while step < cfg.steps:
            sampler.set_epoch(epoch)
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch, cfg.seed)
            for x, y in loader:
                if step >= cfg.steps:
                    break
                if phased:
                    phase = phase_at(step, cfg.steps, cfg.phases)
                    if phase != model.phase:
                        model.set_phase(phase)
                        if is_main:
                            log(f"[train {cfg.task}/{out.name}] step {step}: phase '{phase}'")
                raw = ddp_model(x)
                loss, terms = recipe.loss(raw, x, y)
                if loss is None:   # the recipe updated only its own networks (WGAN-GP's critic steps)
                    loss = torch.tensor(float(getattr(recipe, "last_loss", 0.0)))
                    with warnings.catch_warnings():   # the schedule counts every step, updates or not
                        warnings.simplefilter("ignore", UserWarning)
                        sched.step()
                else:
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"loss became {loss.item()} at step {step}")
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                step += 1
                seen += x.shape[0] * world
                if is_main and (step % cfg.log_every == 0 or step == cfg.steps):
                    el = time.time() - t0
                    rate = seen / el if el else 0.0
                    rec = {"step": step, "loss": round(loss.item(), 5), "lr": opt.param_groups[0]["lr"],
                           "img_per_s": round(rate, 2), "elapsed_s": round(el, 1)}
                    rec.update({k: round(v, 5) for k, v in terms.items()})
                    metrics_f.write(json.dumps(rec) + "\n")
                    metrics_f.flush()
                    shown = "".join(f" {k} {v:.4f}" for k, v in terms.items())
                    bar.update(step, f"loss {loss.item():.4f}{shown} lr {rec['lr']:.1e} {rate:.1f} img/s", force=True)
                elif bar is not None:
                    bar.update(step)
                if is_main and cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
                    model.eval()
                    last = evaluate(model, task, Path(cfg.data), "val", size, cfg.eval_limit)
                    model.train()
                    metrics_f.write(json.dumps({"step": step, "val": last}) + "\n")
                    log(f"[train {cfg.task}/{out.name}] step {step} val {_fmt(last)}")
                if is_main and step % cfg.ckpt_every == 0:
                    save_checkpoint(ckpt_path, model, task=cfg.task, arch=cfg.arch, input_size=size,
                                    step=step, optimizer=opt, scheduler=sched, config=config,
                                    extra=recipe.state_dict())
            epoch += 1
    finally:
        if bar is not None:
            bar.close()
        if metrics_f:
            metrics_f.close()

    if cfg.sync_check:
        (out / f"sync_rank{rank}.json").write_text(json.dumps({"rank": rank, "step": step,
                                                               "digest": param_digest(model)}))
    result: Dict[str, Any] = {"step": step}
    if phased:   # what is evaluated and exported: the model of the last phase
        model.set_phase(phase_at(cfg.steps, cfg.steps, cfg.phases))
    if is_main:
        model.eval()
        val = evaluate(model, task, Path(cfg.data), "val", size, cfg.eval_limit)
        result["val"] = val
        save_checkpoint(ckpt_path, model, task=cfg.task, arch=cfg.arch, input_size=size, step=step,
                        optimizer=opt, scheduler=sched, metrics={"val": val}, config=config,
                        extra=recipe.state_dict())
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step, "val": val, "final": True}) + "\n")
        log(f"[train {cfg.task}/{out.name}] done at step {step} in {fmt_duration(time.time() - t0)}; "
            f"val {_fmt(val)}; checkpoint {ckpt_path}")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result


def _fmt(metrics: Dict[str, Any]) -> str:
    return " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float) and not math.isnan(v))
